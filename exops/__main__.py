from exops.cli import main

main()
