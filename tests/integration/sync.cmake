# Whole-sync tests (engine end to end): a fixture library on top of every layer, and one
# executable per sync_*_test.cpp linked to it.
if(TARGET twinbox_sync AND TARGET twinbox_server AND TARGET twinbox_client)
  add_library(twinbox_sync_fixture STATIC ${PROJECT_SOURCE_DIR}/tests/support/sync_fixture.cpp)
  target_link_libraries(twinbox_sync_fixture PUBLIC twinbox_test_support twinbox_sync
    twinbox_server twinbox_client PRIVATE twinbox_warnings)
  target_compile_definitions(twinbox_sync_fixture PRIVATE
    TWINBOX_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  file(GLOB twinbox_sync_integration CONFIGURE_DEPENDS
    ${CMAKE_CURRENT_SOURCE_DIR}/sync_*_test.cpp)
  foreach(src IN LISTS twinbox_sync_integration)
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "_test$" "" name ${stem})
    twinbox_integration_test(${name} ${src} LIBS twinbox_sync_fixture TIMEOUT 120)
  endforeach()
endif()
