from chatopt.cli import main

main()
