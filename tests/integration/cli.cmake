# The `twinbox` program as users run it: tests/integration/cli/*.cpp, one executable that
# starts the built binary (TWINBOX_BINARY) as a child process.
file(GLOB twinbox_cli_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cli/*.cpp)
twinbox_integration_test(cli ${twinbox_cli_test_sources} LIBS nlohmann_json::nlohmann_json TIMEOUT 600)
target_compile_definitions(integration_cli PRIVATE TWINBOX_COMPLETION_DIR="${PROJECT_SOURCE_DIR}/completion")
