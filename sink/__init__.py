"""sink: the Kafka consumer that writes readings to MongoDB without loss or duplicates.

Not built yet (issue "sink").
"""
