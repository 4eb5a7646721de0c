# Whole-sync tests (engine end to end): a fixture library on top of the sync and server layers,
# and one executable per sync_*_test.cpp linked to it. They do not link the cli layer nor need
# the twinbox binary (so they build while the CLI is being changed).
if(TARGET twinbox_sync AND TARGET twinbox_server AND TARGET twinbox_client)
  add_library(twinbox_sync_fixture STATIC ${PROJECT_SOURCE_DIR}/tests/support/sync_fixture.cpp)
  target_link_libraries(twinbox_sync_fixture PUBLIC twinbox_test_support twinbox_sync
    twinbox_server twinbox_client PRIVATE twinbox_warnings)
  file(GLOB twinbox_sync_integration CONFIGURE_DEPENDS
    ${CMAKE_CURRENT_SOURCE_DIR}/sync_*_test.cpp)
  foreach(src IN LISTS twinbox_sync_integration)
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "_test$" "" name ${stem})
    add_executable(integration_${name} ${src})
    target_link_libraries(integration_${name} PRIVATE twinbox_sync_fixture
      twinbox_doctest_main twinbox_warnings)
    add_test(NAME integration_${name} COMMAND integration_${name})
    # The crash test runs one whole scenario per crash step (about 35): give it room on a
    # loaded machine.
    set(timeout 180)
    if(name STREQUAL "sync_crash")
      set(timeout 480)
    endif()
    set_tests_properties(integration_${name} PROPERTIES LABELS integration TIMEOUT ${timeout})
  endforeach()
endif()
