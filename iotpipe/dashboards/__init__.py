"""Grafana dashboards and alert rules, generated from the contract.

``iotpipe dashboards generate`` writes grafana/dashboards/*.json, the alert rules in
grafana/provisioning/alerting/ and a picture of each dashboard's layout for the docs
(docs/operations/dashboards/<uid>.svg); ``--check`` fails if the committed files drifted. Every
MongoDB panel is a :class:`~iotpipe.dashboards.queries.MongoPanel` spec: the pipeline
Grafana runs and the fields the panel plots, so tests (and ``iotpipe dashboards
queries``) can run each one against a real database the way Grafana would.
"""
