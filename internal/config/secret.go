package config

// Secret is a credential (community, v3 passphrase). It marshals as "<secret>" and
// prints masked, so a config dump, a log line or the status page never shows it.
type Secret string

const maskedSecret = "<secret>"

// MarshalYAML masks the secret when the config is shown.
func (s Secret) MarshalYAML() (any, error) {
	if s == "" {
		return "", nil
	}
	return maskedSecret, nil
}

// String masks the secret in fmt and slog output.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return maskedSecret
}

// Value is the secret itself, for the code that authenticates with it.
func (s Secret) Value() string { return string(s) }
