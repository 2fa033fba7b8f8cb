"""The REST API, one module per route family. A module takes part by declaring a module-level
`routes = RouteGroup(tags=[...], order=...)` (server/routes.py) with each route's scope:
create_app installs every such group it finds in this package, smallest `order` first."""
