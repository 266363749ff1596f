# tests of src/common
