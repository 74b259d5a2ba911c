# The Grafana dashboard and the Prometheus rules (deploy/): promtool checks and unit-tests the
# rules; dashboard_test.py runs every dashboard query against a real Prometheus scraping a
# real chunkcached.
set(chunkcache_rules ${PROJECT_SOURCE_DIR}/deploy/prometheus/chunkcache.rules.yml)

add_test(NAME deploy_rules_check
  COMMAND promtool check rules ${chunkcache_rules})
add_test(NAME deploy_rules_unit_test
  COMMAND promtool test rules ${CMAKE_CURRENT_SOURCE_DIR}/rules_test.yml
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
add_test(NAME deploy_dashboard_live_test
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/dashboard_test.py
          --bin ${CMAKE_BINARY_DIR}/bin
          --dashboard ${PROJECT_SOURCE_DIR}/deploy/grafana/chunkcache.json
          --rules ${chunkcache_rules})
set_tests_properties(deploy_rules_check deploy_rules_unit_test
  PROPERTIES LABELS deploy TIMEOUT 60)
set_tests_properties(deploy_dashboard_live_test PROPERTIES LABELS deploy TIMEOUT 300)
