# Hardening tests (issue "Hardening"): fault_*_test.cpp, hostile_*_test.cpp and
# security_*_test.cpp run whole syncs, so they link the sync fixture (sync.cmake, included
# before this file) as well. Each is its own executable, like every integration test.
if(TARGET twinbox_sync_fixture)
  file(GLOB twinbox_hardening_tests CONFIGURE_DEPENDS
    ${CMAKE_CURRENT_SOURCE_DIR}/fault_*_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/hostile_*_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/security_*_test.cpp)
  foreach(src IN LISTS twinbox_hardening_tests)
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "_test$" "" name ${stem})
    twinbox_integration_test(${name} ${src} LIBS twinbox_sync_fixture TIMEOUT 300)
  endforeach()
endif()
