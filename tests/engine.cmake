# tests of src/engine
