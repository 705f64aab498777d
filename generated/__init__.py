"""Code generated from the Avro contract in schemas/ by ``iotpipe codegen``. Do not edit.

Empty until the contract issue lands.
"""
