from voice_service.service import main

main()
