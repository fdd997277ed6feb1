"""Each handler's production wiring: ``dependencies()`` built from exactly its ENV_VARS."""

from __future__ import annotations

from types import ModuleType

import pytest

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:/phase-mirror/test/hmac-salt-AbCdEf"
ENVIRONMENTS = {
    "salt_rotator": {"SALT_SECRET_ID": ARN},
    "fp_ingestion": {
        "CONSENT_TABLE_NAME": "phase-mirror-consent-store-test",
        "CALIBRATION_TABLE_NAME": "phase-mirror-calibration-store-test",
        "AGGREGATES_TABLE_NAME": "phase-mirror-calibration-aggregates-test",
        "SALT_SECRET_ID": ARN,
        "SALT_CACHE_SECONDS": "60",
        "ENVIRONMENT": "production",
    },
    "calibration_query": {
        "AGGREGATES_TABLE_NAME": "phase-mirror-calibration-aggregates-test",
        "K_ANONYMITY": "12",
        "ENVIRONMENT": "production",
    },
}


@pytest.mark.parametrize("function", sorted(ENVIRONMENTS))
def test_env_vars_are_the_variables_the_wiring_needs(
    function: str,
    rotator: ModuleType,
    ingestion: ModuleType,
    calibration_query: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = {"salt_rotator": rotator, "fp_ingestion": ingestion}.get(function, calibration_query)
    env = ENVIRONMENTS[function]
    assert set(module.ENV_VARS) == set(env), module.ENV_VARS
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    deps = module.dependencies.__wrapped__()  # uncached: a fresh container's first call
    if function == "salt_rotator":
        assert deps.secret_id == ARN
    elif function == "fp_ingestion":
        assert deps.settings == ingestion.Settings.from_env(env)
        assert deps.settings.salt_cache_seconds == 60
    else:
        assert (deps.settings.k, deps.settings.aggregates_table) == (
            12,
            "phase-mirror-calibration-aggregates-test",
        )
    # every required variable is needed: without it the wiring fails at once
    required = [name for name in env if name not in ("SALT_CACHE_SECONDS", "K_ANONYMITY")]
    for name in required:
        monkeypatch.delenv(name)
        with pytest.raises((KeyError, ValueError)):
            module.dependencies.__wrapped__()
        monkeypatch.setenv(name, env[name])
