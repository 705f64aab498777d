"""``iotpipe demo``: the whole pipeline on the local stack, with a simulated fleet."""
