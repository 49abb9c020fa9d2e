"""The devices: the table of kinds (kinds), the Adapter base, one module per device.  Imports net and the base."""
