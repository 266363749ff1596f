# tests of src/client
