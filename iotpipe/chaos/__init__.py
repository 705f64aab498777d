"""Fault injection (``iotpipe chaos``): the real pipeline on a private stack, faults
injected while a load driver streams readings, then every acknowledged reading counted."""
