"""The soak run (``iotpipe soak``, ``nox -s soak``): ingest and sink as real processes under
half of their peak for minutes, sampled every few seconds, so that a slow leak, a creeping
error rate or a sink that falls behind shows as a trend instead of hiding in a short
benchmark. It prints figures and a verdict; nothing here is a CI test.
"""
