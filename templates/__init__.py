# Data only: the built-in visual templates (*.toml) ship as this package's resources.
