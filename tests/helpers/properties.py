"""The one hypothesis setting of the property tests: reproducible, no shrinking, a budget per property.

`make test` runs each property with its full budget; `make test-fast` sets AIPAIR_PROPERTY_SCALE=0.1 for the
inner loop (the same derandomized examples, the first tenth of them).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings


def property_settings(examples: int) -> settings:
    """Reproducible (derandomize) and without shrinking, to stay fast: the minimal examples found are kept as
    plain regression tests beside the properties."""
    scale = float(os.environ.get("AIPAIR_PROPERTY_SCALE", "1"))
    return settings(
        max_examples=max(1, round(examples * scale)),
        phases=(Phase.explicit, Phase.generate),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
