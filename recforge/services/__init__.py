"""Services shared by the command line, the console and the HTTP server."""
