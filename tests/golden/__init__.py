"""Golden snapshots of Switchyard's wire format (see README.md); `snapshot` holds the helpers."""
