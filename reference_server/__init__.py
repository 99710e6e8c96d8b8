"""The chatopt reference server: a Starlette chat backend where every fix is a switch."""
