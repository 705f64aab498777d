"""openSenseMap drop-in: senseBox devices post here unchanged, readings come out.

Routes, formats, status codes and bodies follow the openSenseMap API (v1); each accepted
measurement becomes a ``SensorReading`` of the contract and goes the same way as every
other reading (validation, Avro, Kafka, sink). Layout:

- ``measurements``: what a decoded measurement is (upstream's shape, value as a string);
- ``decoding``: the body formats (JSON object/array, CSV, sbx-bytes(-ts), luftdaten,
  hackAIR) and upstream's validation rules, pure functions;
- ``readings``: a box's measurements -> contract readings (kind, unit, event id);
- ``errors``: upstream's ``{"code","message"}`` errors;
- ``api``: the FastAPI routes.
"""
