from suggest.cli import main

main()
