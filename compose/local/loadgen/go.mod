module iotpipe.dev/bench/loadgen

go 1.26.0
