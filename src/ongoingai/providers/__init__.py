"""Provider knowledge: routes and prefixes, wire-format parsing (model, usage), and prices."""
