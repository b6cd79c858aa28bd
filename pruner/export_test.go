package pruner

// LoadDump loads a dump into an open index through a rebuild, for the tests that need the
// index's change feed to report the loaded state.
var LoadDump = loadDump
