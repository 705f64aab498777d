"""The device registry: openSenseMap-style boxes and their sensors.

A box is what ingest checks an openSenseMap request against (does the box exist, which
sensors does it have, does the token match) and what turns a bare measurement into a
contract reading (sensor title, unit, kind). The registry's source of truth is a
compacted Kafka topic (see :mod:`iotpipe.devices.topic`); ingest follows it in memory
and the sink mirrors it into MongoDB. :mod:`iotpipe.devices.boxes` is the model.
"""
