# Install rules: librmc, rmc.h, a pkg-config file (rmc.pc) and a CMake package config
# (find_package(rmc) -> rmc::rmc). Included at the end of the top-level CMakeLists.txt.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS rmc EXPORT rmcTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/rmc.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# rmc.pc names its prefix relative to its own folder (${pcfiledir}), so that the prefix
# chosen at install time (cmake --install --prefix) need not be known when configuring.
set(rmc_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH RMC_PC_UP "/root/${rmc_pc_dir}" "/root")
string(REGEX REPLACE "/$" "" RMC_PC_UP "${RMC_PC_UP}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/rmc.pc.in ${PROJECT_BINARY_DIR}/rmc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/rmc.pc DESTINATION ${rmc_pc_dir})

set(rmc_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/rmc)
install(EXPORT rmcTargets NAMESPACE rmc:: DESTINATION ${rmc_cmake_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/rmcConfig.cmake.in
  ${PROJECT_BINARY_DIR}/rmcConfig.cmake INSTALL_DESTINATION ${rmc_cmake_dir})
# 0.x releases make no compatibility promise across minor versions.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/rmcConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/rmcConfig.cmake ${PROJECT_BINARY_DIR}/rmcConfigVersion.cmake
  DESTINATION ${rmc_cmake_dir})
