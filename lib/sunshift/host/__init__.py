"""The host: command line, simulator, scenarios, figures, picture.  Never deployed to a board; nothing in the package imports it."""
