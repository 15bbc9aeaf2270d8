"""Exceptions raised by the edge provisioning code.

Every AWS failure leaves deploy/ as a DeployError (never a raw botocore exception), with
a message that says what was being done and what to do next. Commands turn it into a
CommandError.
"""


class DeployError(Exception):
    """Provisioning cannot continue; the message says why and what to do."""


class ConfigError(DeployError):
    """The edge config file is wrong; nothing has been touched."""
