#include <cstdio>

int main() {
  std::puts("fastvideo: under construction");
  return 0;
}
