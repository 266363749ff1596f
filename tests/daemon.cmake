# tests of src/daemon
