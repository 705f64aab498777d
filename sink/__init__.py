"""sink: the Kafka consumer that writes records to MongoDB without loss or duplicates.

Layout: ``documents`` maps records to documents (pure), ``store/`` is the database port
(MongoDB adapter and in-memory fake), ``dlq`` the dead-letter topic, ``runner`` the
consume -> decode -> write -> commit loop, ``main`` wires the real adapters.
"""
