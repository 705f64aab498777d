"""A schema change rolled out under load (issue 23): the rollout scenarios of ``iotpipe chaos``."""
