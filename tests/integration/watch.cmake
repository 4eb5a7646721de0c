# Watch-mode tests (watch_*_test.cpp): like the whole-sync tests, linked to the sync fixture
# (tests/integration/sync.cmake, included before this file). Latencies are printed, never asserted.
if(TARGET twinbox_sync_fixture)
  file(GLOB twinbox_watch_integration CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/watch_*_test.cpp)
  foreach(src IN LISTS twinbox_watch_integration)
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "_test$" "" name ${stem})
    twinbox_integration_test(${name} ${src} LIBS twinbox_sync_fixture TIMEOUT 240)
  endforeach()
endif()
