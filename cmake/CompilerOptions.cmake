# Warnings are errors for the project's own code; sanitizers are chosen per preset.
add_compile_options(-Wall -Wextra -Werror -Wno-missing-field-initializers)

if(CHUNKCACHE_SANITIZE)
  add_compile_options(-fsanitize=${CHUNKCACHE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${CHUNKCACHE_SANITIZE})
endif()

if(CHUNKCACHE_BUILD_FUZZERS)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
