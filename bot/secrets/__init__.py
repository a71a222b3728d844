"""Secret store backends (env, directory, Vault), credential profiles and log redaction."""

from bot.secrets.config import SecretSettings, build_secret_store
from bot.secrets.errors import (
    InvalidProfileName,
    ProfileBrokerageMismatch,
    ProfileIncomplete,
    ProfileNotFound,
    QuantConnectCredentialsMissing,
    SecretBackendError,
    SecretError,
    SecretSettingsError,
)
from bot.secrets.keys import validate_profile_name
from bot.secrets.profiles import CredentialProfiles, FieldStatus
from bot.secrets.redaction import DEFAULT_REGISTRY, SecretRegistry, install_redaction, redact
from bot.secrets.store import (
    ChainedSecretStore,
    DirectorySecretStore,
    EnvSecretStore,
    SecretStore,
    VaultSecretStore,
)

__all__ = [
    "DEFAULT_REGISTRY",
    "ChainedSecretStore",
    "CredentialProfiles",
    "DirectorySecretStore",
    "EnvSecretStore",
    "FieldStatus",
    "InvalidProfileName",
    "ProfileBrokerageMismatch",
    "ProfileIncomplete",
    "ProfileNotFound",
    "QuantConnectCredentialsMissing",
    "SecretBackendError",
    "SecretError",
    "SecretRegistry",
    "SecretSettings",
    "SecretSettingsError",
    "SecretStore",
    "VaultSecretStore",
    "build_secret_store",
    "install_redaction",
    "redact",
    "validate_profile_name",
]
