"""The calibration service: its tables and keys, the HMAC salt and its rotation, the functions, the HTTP API and the service's alarms."""
