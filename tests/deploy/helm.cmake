# Checks of the Helm chart helm/chunkcache (label deploy). helm v3.17.1 is installed into the
# build tree (tools/bin) on first use by ../shared/tools/install-helm.sh, from the npm registry.
set(CHUNKCACHE_HELM_TOOLS "${CMAKE_BINARY_DIR}/tools/bin")
set(CHUNKCACHE_HELM "${CHUNKCACHE_HELM_TOOLS}/helm")
set(CHUNKCACHE_HELM_CHART "${PROJECT_SOURCE_DIR}/helm/chunkcache")
set(CHUNKCACHE_HELM_SCRIPT "${CMAKE_CURRENT_SOURCE_DIR}/helm_test.sh")

add_test(NAME HelmInstallTool
  COMMAND ${CHUNKCACHE_HELM_SCRIPT} install ${CHUNKCACHE_HELM_TOOLS} ${CHUNKCACHE_SHARED_DIR})
set_tests_properties(HelmInstallTool PROPERTIES
  LABELS deploy TIMEOUT 300 FIXTURES_SETUP helm_tool)

add_test(NAME HelmLint
  COMMAND ${CHUNKCACHE_HELM_SCRIPT} lint ${CHUNKCACHE_HELM} ${CHUNKCACHE_HELM_CHART}
          ${CMAKE_CURRENT_SOURCE_DIR})
add_test(NAME HelmSchemaRejectsBadValues
  COMMAND ${CHUNKCACHE_HELM_SCRIPT} schema ${CHUNKCACHE_HELM} ${CHUNKCACHE_HELM_CHART}
          ${CMAKE_CURRENT_SOURCE_DIR})
# The rendered objects and the config chunkcached reads; --check-config with this build's
# chunkcached (the test runs without it when only part of the tree is built); the README's
# table of values.
add_test(NAME HelmRenderedObjects
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/helm_render_test.py
          --helm ${CHUNKCACHE_HELM} --chart ${CHUNKCACHE_HELM_CHART}
          --values-dir ${CMAKE_CURRENT_SOURCE_DIR}
          --proto ${PROJECT_SOURCE_DIR}/proto/chunkcache/v1/config.proto
          --shared ${CHUNKCACHE_SHARED_DIR} --readme ${PROJECT_SOURCE_DIR}/README.md
          --chunkcached=$<$<TARGET_EXISTS:chunkcached>:$<TARGET_FILE:chunkcached>>)
set_tests_properties(HelmLint HelmSchemaRejectsBadValues HelmRenderedObjects PROPERTIES
  LABELS deploy TIMEOUT 120 FIXTURES_REQUIRED helm_tool)

# The exec probes of a TLS port, exactly as rendered (with and without mutual TLS, and tier 2's),
# run against a real chunkcached of this build serving TLS: they pass, and readiness fails
# while the datastore directory is gone.
add_test(NAME HelmExecProbesAgainstChunkcached
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/helm_probe_test.py
          --helm ${CHUNKCACHE_HELM} --chart ${CHUNKCACHE_HELM_CHART}
          --bin ${CMAKE_BINARY_DIR}/bin --shared ${CHUNKCACHE_SHARED_DIR})
set_tests_properties(HelmExecProbesAgainstChunkcached PROPERTIES
  LABELS deploy TIMEOUT 300 FIXTURES_REQUIRED helm_tool)

add_test(NAME HelmDashboardCopy
  COMMAND ${CHUNKCACHE_HELM_SCRIPT} dashboard ${CHUNKCACHE_HELM_CHART} ${PROJECT_SOURCE_DIR})
set_tests_properties(HelmDashboardCopy PROPERTIES LABELS deploy TIMEOUT 30)
