# Markers the key loader looks for; not keys themselves.
PEM_PRIVATE_MARKER = b"-----BEGIN PRIVATE KEY"
PEM_PUBLIC_HEADER = "-----BEGIN PUBLIC KEY-----"
SERVICE_ACCOUNT_TYPE = "service_account"
AWS_KEY_PREFIXES = ("AKIA", "ASIA")
GITHUB_PREFIXES = ("ghp_", "gho_", "ghs_", "github_pat_")
