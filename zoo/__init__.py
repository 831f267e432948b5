"""The model zoo (bases and concept adapters), shipped as package data; see zoo/catalogue.json."""
