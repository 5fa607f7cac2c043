"""The platform's domains, one package each; ``vetrai.platform`` loads their apps in this
order."""

DOMAIN_NAMES = (
    "auth",
    "tenancy",
    "keys",
    "billing",
    "support",
    "themes",
    "notifications",
    "workers",
)
