"""HTTP edge concerns shared by proxy and API: correlation ids, the error hierarchy and its rendering."""
