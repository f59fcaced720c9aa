// fastvideo: text-to-video from the command line. A thin layer over include/fastvideo.
#include "commands.h"
#include "subcommand_program.h"

int main(int argc, char** argv) {
  using namespace fastvideo::cli;
  return run_subcommand_program(
      "fastvideo", "fastvideo: text-to-video diffusion (Wan2.1) in C++",
      {add_generate_command, add_inspect_command, add_compare_command, add_make_tiny_model_command,
       add_bench_command, add_backends_command, add_sta_search_command, add_serve_command},
      argc, argv);
}
