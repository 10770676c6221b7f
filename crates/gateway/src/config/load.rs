//! Loading and validating configuration (written next).
