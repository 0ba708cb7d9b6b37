"""The reverse proxy: builds the upstream request, streams the response back, feeds the capture tap."""
