from vetrai.cli import main

main()
