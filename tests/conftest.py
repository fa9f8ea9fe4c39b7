pytest_plugins = ["tests.infra_fixtures"]
