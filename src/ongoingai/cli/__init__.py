"""The `ongoingai` operator CLI: thin commands over config, the server and the query layer."""
