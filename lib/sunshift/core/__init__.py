"""The engine: signals, windowed series, rule states, dispatch.  Pure: time is passed in.  Imports lang and the base."""
